//! Bounded text: every string a client can store is parsed into one of these
//! newtypes at the edge, so an over-long or control-character-laden value
//! never reaches a command.
//!
//! Rules shared by every type:
//! - the bound counts **characters** (Unicode scalar values, `str::chars`),
//!   not bytes: a 4-byte emoji counts as one. The UTF-8 size of a whole
//!   command is bounded separately by [`MAX_COMMAND_TEXT_BYTES`];
//! - **single-line** types refuse every control character (Unicode `Cc`,
//!   including tab, CR and LF); **multi-line** types allow `\n`, `\r` and `\t`
//!   and refuse every other control character;
//! - emptiness is *not* a text rule: whether a field is required is a domain
//!   rule (e.g. an empty incident title is `IncidentError::EmptyTitle`).
//!   Only [`DedupKey`] refuses the empty string, because a group key without
//!   a key is not a key.
//!
//! Stored events keep plain `String`s: history written before these bounds
//! existed must keep decoding, and the bounds apply to new input only.

/// The most UTF-8 bytes of text one command may carry, summed over all of
/// its text fields (5 KiB). Keeps each of a command's events below the
/// store's hard per-record cap (`opsledger_storage::limits::MAX_RECORD_BYTES`,
/// 6 KiB, which keeps every sled leaf below sled 0.34's blob threshold), with
/// 1 KiB left for the envelope (ids, actor, command id, timestamps).
pub const MAX_COMMAND_TEXT_BYTES: usize = 5 * 1024;

/// Whether a type holds one line or free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control character at all.
    Single,
    /// Free text: `\n`, `\r` and `\t` allowed, no other control character.
    Multi,
}

/// Why a text value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// More characters than the type allows.
    #[error("at most {max} characters")]
    TooLong {
        /// The bound, in characters.
        max: usize,
    },
    /// A control character the type does not allow.
    #[error("control character U+{code:04X} not allowed")]
    ControlCharacter {
        /// The offending character's code point.
        code: u32,
    },
    /// The value is empty (only for types that require a value).
    #[error("must not be empty")]
    Empty,
    /// The value is not of the required form (e.g. a URL without `https://`).
    #[error("{0}")]
    Malformed(&'static str),
}

/// A parsed, bounded text type.
pub trait BoundedText: Sized {
    /// The most characters a value may hold.
    const MAX_CHARS: usize;
    /// Single-line or free text.
    const LINES: Lines;
    /// Parses `value`, refusing what the type does not allow.
    fn parse(value: impl Into<String>) -> Result<Self, TextError>;
    /// The text.
    fn as_str(&self) -> &str;
    /// The text, owned.
    fn into_string(self) -> String;
}

/// Checks the rules shared by every type: the character bound and control characters.
pub fn check(value: &str, max_chars: usize, lines: Lines) -> Result<(), TextError> {
    // Cheap refusal before counting: a char is at least one byte.
    if value.len() > max_chars.saturating_mul(4) || value.chars().count() > max_chars {
        return Err(TextError::TooLong { max: max_chars });
    }
    let allowed = |c: char| lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t');
    match value.chars().find(|c| c.is_control() && !allowed(*c)) {
        Some(c) => Err(TextError::ControlCharacter { code: u32::from(c) }),
        None => Ok(()),
    }
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr, $lines:expr $(, extra = $extra:path)?) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl BoundedText for $name {
            const MAX_CHARS: usize = $max;
            const LINES: Lines = $lines;

            fn parse(value: impl Into<String>) -> Result<Self, TextError> {
                let value = value.into();
                check(&value, $max, $lines)?;
                $($extra(&value)?;)?
                Ok($name(value))
            }

            fn as_str(&self) -> &str {
                &self.0
            }

            fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The longest accepted title (incident, change, action item), in characters.
pub const MAX_TITLE_CHARS: usize = 200;

bounded_text!(
    /// A service name (unique display name): one line, at most 100 characters.
    Name, crate::service::MAX_NAME_CHARS, Lines::Single
);
bounded_text!(
    /// A title (incident, change, action item): one line, at most 200 characters.
    Title, MAX_TITLE_CHARS, Lines::Single
);
bounded_text!(
    /// A team name (a service's owner team): one line, at most 100 characters.
    Team, 100, Lines::Single
);
bounded_text!(
    /// A person, team or schedule named as a commander, responder, action
    /// item owner or escalation target: one line, at most 100 characters.
    Person, 100, Lines::Single
);
bounded_text!(
    /// A description (service, incident, change): free text, at most 10,000 characters.
    Description, 5_000, Lines::Multi
);
bounded_text!(
    /// An implementation or rollback plan: free text, at most 10,000 characters.
    Plan, 5_000, Lines::Multi
);
bounded_text!(
    /// An incident timeline note, validation notes or a contributing factor:
    /// free text, at most 4,000 characters.
    Note, 4_000, Lines::Multi
);
bounded_text!(
    /// A status update (public ones are shown on the anonymous status page):
    /// free text, at most 2,000 characters.
    StatusMessage, 2_000, Lines::Multi
);
bounded_text!(
    /// A resolution or completion summary: free text, at most 4,000 characters.
    Summary, 4_000, Lines::Multi
);
bounded_text!(
    /// An alert's summary: free text, at most 1,000 characters.
    AlertSummary, 1_000, Lines::Multi
);
bounded_text!(
    /// A reason (retire, reopen, reject, fail, roll back, cancel, freeze):
    /// free text, at most 2,000 characters.
    Reason, 2_000, Lines::Multi
);
bounded_text!(
    /// An approval comment: free text, at most 2,000 characters.
    Comment, 2_000, Lines::Multi
);
bounded_text!(
    /// A validation step's name: one line, at most 500 characters.
    StepName, 500, Lines::Single
);
bounded_text!(
    /// A review section's text: free text, at most 20,000 characters.
    SectionText, 5_000, Lines::Multi
);
bounded_text!(
    /// A URL (e.g. a runbook): one line, at most 2,048 characters, starting
    /// with `http://` or `https://`, without whitespace.
    Url, 2_048, Lines::Single, extra = url_form
);
bounded_text!(
    /// An alert group's dedup key / fingerprint: one line, 1 to 200 characters.
    DedupKey, crate::alert_group_key::MAX_DEDUP_KEY_CHARS, Lines::Single, extra = non_empty
);
bounded_text!(
    /// Where an alert came from (e.g. `alertmanager`): one line, at most 100 characters.
    AlertSource, 100, Lines::Single
);
bounded_text!(
    /// An alert label's name: one line, at most 100 characters.
    LabelName, 100, Lines::Single
);
bounded_text!(
    /// An alert label's value: one line, at most 1,000 characters.
    LabelValue, 1_000, Lines::Single
);
bounded_text!(
    /// A client's idempotency key: one line, at most 200 characters.
    IdempotencyKey, 200, Lines::Single
);

/// The most labels one alert may carry.
pub const MAX_LABELS: usize = 64;

fn non_empty(value: &str) -> Result<(), TextError> {
    if value.is_empty() {
        Err(TextError::Empty)
    } else {
        Ok(())
    }
}

fn url_form(value: &str) -> Result<(), TextError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or(TextError::Malformed("must start with https:// or http://"))?;
    if rest.is_empty() || rest.chars().any(char::is_whitespace) {
        return Err(TextError::Malformed("must be a URL without whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_at_the_bound_is_accepted_one_more_character_is_refused() {
        assert!(Title::parse("t".repeat(200)).is_ok());
        assert_eq!(
            Title::parse("t".repeat(201)),
            Err(TextError::TooLong { max: 200 })
        );
        assert_eq!(
            StatusMessage::parse("x".repeat(2_001)),
            Err(TextError::TooLong { max: 2_000 })
        );
    }

    #[test]
    fn the_bound_counts_characters_not_bytes() {
        // 200 four-byte characters: 800 bytes, still 200 characters.
        let emoji = "\u{1F525}".repeat(200);
        assert_eq!(emoji.len(), 800);
        assert!(Title::parse(emoji.clone()).is_ok());
        assert_eq!(
            Title::parse(emoji + "x"),
            Err(TextError::TooLong { max: 200 })
        );
    }

    #[test]
    fn single_line_types_refuse_every_control_character() {
        for bad in ["a\nb", "a\tb", "a\rb", "a\u{0}b", "a\u{7f}b", "a\u{85}b"] {
            assert!(
                matches!(Title::parse(bad), Err(TextError::ControlCharacter { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            Person::parse("a\u{1b}[31m"),
            Err(TextError::ControlCharacter { code: 0x1b })
        );
    }

    #[test]
    fn multi_line_types_allow_newline_tab_and_return_only() {
        assert!(Note::parse("line 1\r\nline 2\tend").is_ok());
        assert_eq!(
            Note::parse("bell\u{7}"),
            Err(TextError::ControlCharacter { code: 7 })
        );
        assert_eq!(
            Description::parse("nul\u{0}"),
            Err(TextError::ControlCharacter { code: 0 })
        );
    }

    #[test]
    fn empty_text_is_left_to_the_domain_except_for_dedup_keys() {
        assert!(Reason::parse("").is_ok());
        assert_eq!(DedupKey::parse(""), Err(TextError::Empty));
        assert!(DedupKey::parse("k".repeat(200)).is_ok());
        assert_eq!(
            DedupKey::parse("k".repeat(201)),
            Err(TextError::TooLong { max: 200 })
        );
    }

    #[test]
    fn urls_need_an_http_scheme_and_no_whitespace() {
        assert!(Url::parse("https://runbooks.example.com/checkout").is_ok());
        assert!(Url::parse("http://wiki/x").is_ok());
        for bad in ["javascript:alert(1)", "ftp://x", "https://", "https://a b"] {
            assert!(
                matches!(Url::parse(bad), Err(TextError::Malformed(_))),
                "{bad}"
            );
        }
        let long = format!("https://{}", "a".repeat(2_041));
        assert_eq!(Url::parse(long), Err(TextError::TooLong { max: 2_048 }));
    }

    #[test]
    fn a_parsed_value_keeps_its_text_unchanged() {
        let title = Title::parse("  Checkout errors ").unwrap();
        assert_eq!(title.as_str(), "  Checkout errors ");
        assert_eq!(title.into_string(), "  Checkout errors ");
    }
}
