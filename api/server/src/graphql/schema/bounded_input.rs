//! The one place a mutation's client-supplied strings are parsed into the
//! domain's bounded text types ([`opsledger_domain::text`]).
//!
//! Each mutation parses its text fields through one [`CommandText`]: a field
//! that breaks its type's rule is a VALIDATION error naming the field and the
//! limit (`input.summary: at most 4000 characters`), and the UTF-8 bytes of
//! all fields together may not exceed
//! [`MAX_COMMAND_TEXT_BYTES`](opsledger_domain::text::MAX_COMMAND_TEXT_BYTES)
//! (LIMIT otherwise), which keeps one command's events far below the store's
//! per-record cap.

use crate::error::ApiError;
use opsledger_domain::text::{BoundedText, TextError, MAX_COMMAND_TEXT_BYTES};

/// A VALIDATION error for `field` refused by a text rule.
pub fn text_error(field: &str, err: TextError) -> ApiError {
    ApiError::validation(field, err.to_string())
}

/// Parses one value into `T`, naming `field` on failure (no command budget).
pub fn parse_text<T: BoundedText>(field: &str, value: impl Into<String>) -> Result<T, ApiError> {
    T::parse(value).map_err(|err| text_error(field, err))
}

/// `Ok` if `len` items fit `max`, else VALIDATION on `field`.
pub fn check_count(field: &str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max {
        return Err(ApiError::validation(field, format!("at most {max} items")));
    }
    Ok(())
}

/// The text of one command being parsed: counts its bytes against the budget.
#[derive(Debug, Default)]
pub struct CommandText {
    bytes: usize,
}

impl CommandText {
    /// A fresh budget for one command.
    pub fn new() -> Self {
        CommandText::default()
    }

    /// Parses `value` into `T` (VALIDATION naming `field`), counting its bytes.
    pub fn parse<T: BoundedText>(
        &mut self,
        field: &str,
        value: impl Into<String>,
    ) -> Result<T, ApiError> {
        let text: T = parse_text(field, value)?;
        self.bytes = self.bytes.saturating_add(text.as_str().len());
        if self.bytes > MAX_COMMAND_TEXT_BYTES {
            return Err(ApiError::limit(format!(
                "at most {MAX_COMMAND_TEXT_BYTES} bytes (UTF-8) of text in one command \
                 (reached at `{field}`)"
            )));
        }
        Ok(text)
    }

    /// Parses `value` into `T` and returns it as the `String` a command or event holds.
    pub fn string<T: BoundedText>(
        &mut self,
        field: &str,
        value: impl Into<String>,
    ) -> Result<String, ApiError> {
        self.parse::<T>(field, value).map(BoundedText::into_string)
    }

    /// Like [`CommandText::string`] for an optional value.
    pub fn optional<T: BoundedText>(
        &mut self,
        field: &str,
        value: Option<String>,
    ) -> Result<Option<String>, ApiError> {
        value.map(|v| self.string::<T>(field, v)).transpose()
    }

    /// Parses every item of a list (at most `max` of them), naming `field[i]`.
    pub fn list<T: BoundedText>(
        &mut self,
        field: &str,
        values: Vec<String>,
        max: usize,
    ) -> Result<Vec<String>, ApiError> {
        check_count(field, values.len(), max)?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| self.string::<T>(&format!("{field}[{i}]"), v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use opsledger_domain::text::{Description, Summary, Title};

    #[test]
    fn an_over_long_field_is_validation_naming_the_field_and_the_limit() {
        let err = CommandText::new()
            .parse::<Summary>("input.summary", "x".repeat(4_001))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        assert_eq!(
            err.message(),
            "invalid `input.summary`: at most 4000 characters"
        );
    }

    #[test]
    fn the_text_of_one_command_is_limited_to_5_kib() {
        let mut text = CommandText::new();
        // 800 three-byte characters: within each field's bound, 2,400 bytes each.
        let wide = "\u{20AC}".repeat(800);
        assert!(text.parse::<Description>("a", wide.clone()).is_ok());
        assert!(text.parse::<Description>("b", wide.clone()).is_ok());
        let err = text.parse::<Description>("c", wide).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Limit);
    }

    #[test]
    fn list_items_are_named_by_index_and_counted() {
        let mut text = CommandText::new();
        let err = text
            .list::<Title>("steps", vec!["ok".into(), "bad\n".into()], 5)
            .unwrap_err();
        assert_eq!(err.message().split(':').next(), Some("invalid `steps[1]`"));
        let err = text
            .list::<Title>("steps", vec!["a".into(); 6], 5)
            .unwrap_err();
        assert_eq!(err.message(), "invalid `steps`: at most 5 items");
    }
}
