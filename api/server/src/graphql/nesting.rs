//! The nesting bound of a GraphQL request, checked on the raw text before
//! the parser (and every later pass, all recursive) sees it.
//!
//! async-graphql's parser bounds selection sets, but not values: a list
//! `[[[[...]]]]` or an input object `{a:{a:...}}` a few thousand levels deep
//! overflowed a worker's stack and aborted the server. [`check_nesting`]
//! counts open brackets (`{`, `[`, `(`) in one linear scan, skipping strings,
//! block strings and comments, so the bound holds whatever the brackets
//! mean. [`check_variables_nesting`] bounds the JSON variables the same way.
//! Both are pure and never panic (a fuzz target calls them).

use async_graphql::{Value, Variables};

/// A request nested deeper than the bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooDeep {
    /// The bound that was exceeded.
    pub max: usize,
    /// Where the first bracket over the bound is: 1-based line and column
    /// (`None` for variables).
    pub at: Option<(usize, usize)>,
}

impl TooDeep {
    /// A description naming the bound, for the LIMIT error's message.
    pub fn describe(&self) -> String {
        match self.at {
            Some((line, column)) => format!(
                "the query nests `{{`, `[` and `(` more than {} levels deep (line {line}, column {column})",
                self.max
            ),
            None => format!("the variables nest more than {} levels deep", self.max),
        }
    }
}

/// Where the scanner is between brackets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    Code,
    Comment,
    String,
    BlockString,
}

/// Checks that no bracket of `doc` opens more than `max` levels deep.
/// Brackets inside strings, block strings and comments do not count; a
/// closing bracket without an opener is ignored (the parser refuses it).
pub fn check_nesting(doc: &str, max: usize) -> Result<(), TooDeep> {
    let bytes = doc.as_bytes();
    let mut depth = 0usize;
    let mut lexeme = Lexeme::Code;
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\n' {
            line += 1;
            line_start = i + 1;
        }
        match lexeme {
            Lexeme::Code => match byte {
                b'#' => lexeme = Lexeme::Comment,
                b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                    lexeme = Lexeme::BlockString;
                    i += 2;
                }
                b'"' => lexeme = Lexeme::String,
                b'{' | b'[' | b'(' => {
                    depth += 1;
                    if depth > max {
                        let column = doc[line_start..i].chars().count() + 1;
                        return Err(TooDeep {
                            max,
                            at: Some((line, column)),
                        });
                    }
                }
                b'}' | b']' | b')' => depth = depth.saturating_sub(1),
                _ => {}
            },
            Lexeme::Comment => {
                if byte == b'\n' || byte == b'\r' {
                    lexeme = Lexeme::Code;
                }
            }
            Lexeme::String => match byte {
                b'\\' => i += 1, // the escaped byte cannot end the string
                // A string cannot span lines: the parser refuses it, so count on.
                b'"' | b'\n' | b'\r' => lexeme = Lexeme::Code,
                _ => {}
            },
            Lexeme::BlockString => {
                if bytes[i..].starts_with(b"\\\"\"\"") {
                    i += 3; // an escaped triple quote
                } else if bytes[i..].starts_with(b"\"\"\"") {
                    lexeme = Lexeme::Code;
                    i += 2;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// Checks that no list or object of `variables` nests more than `max` levels
/// deep (the variables object itself is level 1, like a document's first brace).
pub fn check_variables_nesting(variables: &Variables, max: usize) -> Result<(), TooDeep> {
    if variables.is_empty() {
        return Ok(());
    }
    if max > 0 && variables.values().all(|value| fits(value, max - 1)) {
        Ok(())
    } else {
        Err(TooDeep { max, at: None })
    }
}

/// Whether `value` nests at most `room` levels (the recursion is bounded by `room`).
fn fits(value: &Value, room: usize) -> bool {
    match value {
        Value::List(items) => room > 0 && items.iter().all(|item| fits(item, room - 1)),
        Value::Object(fields) => room > 0 && fields.values().all(|field| fits(field, room - 1)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, depth: usize) -> String {
        format!("{}{}", open.repeat(depth), close.repeat(depth))
    }

    #[test]
    fn a_document_within_the_bound_passes() {
        assert_eq!(check_nesting("{ statusPage { overall } }", 2), Ok(()));
        let query = format!(
            "{{ statusPage(x: {}) {{ overall }} }}",
            nested("[", "]", 10)
        );
        assert_eq!(check_nesting(&query, 12), Ok(()));
        assert_eq!(check_nesting("", 0), Ok(()));
    }

    #[test]
    fn every_bracket_kind_counts_towards_the_bound() {
        let query = "{ a(x: [{b: 1}]) }"; // { ( [ { = 4 levels
        assert_eq!(check_nesting(query, 4), Ok(()));
        let err = check_nesting(query, 3).unwrap_err();
        assert_eq!(err.at, Some((1, 9)));
    }

    #[test]
    fn deep_lists_and_input_objects_are_refused_at_the_first_bracket_over_the_bound() {
        for depth in [65, 10_000, 100_000] {
            let list = format!(
                "{{ statusPage(x: {}) {{ overall }} }}",
                nested("[", "]", depth)
            );
            let err = check_nesting(&list, 64).unwrap_err();
            // `{`, `(` then 62 `[`: the 63rd `[` is level 65.
            assert_eq!(err.at, Some((1, 17 + 62)));
            let object = format!(
                "{{ statusPage(x: {}1{}) {{ overall }} }}",
                "{a:".repeat(depth),
                "}".repeat(depth)
            );
            assert!(check_nesting(&object, 64).is_err());
        }
    }

    #[test]
    fn brackets_in_strings_block_strings_and_comments_do_not_count() {
        let deep = "[".repeat(1000);
        let query = format!(
            "{{ a(s: \"{deep}\\\"{deep}\", b: \"\"\"{deep}\n\\\"\"\"{deep}\"\"\") # {deep}\n}}"
        );
        assert_eq!(check_nesting(&query, 2), Ok(()));
        // After each of them, brackets count again.
        let after = format!("{query} {}", nested("[", "]", 3));
        assert!(check_nesting(&after, 2).is_err());
    }

    #[test]
    fn an_unterminated_string_ends_at_the_line_end() {
        let query = format!("{{ a(s: \"open\n{}) }}", nested("[", "]", 5));
        assert!(check_nesting(&query, 4).is_err());
    }

    #[test]
    fn closers_without_openers_do_not_buy_depth() {
        let query = format!("{}{}", "]".repeat(100), nested("[", "]", 5));
        assert!(check_nesting(&query, 4).is_err());
    }

    #[test]
    fn the_position_counts_lines_and_characters() {
        let err = check_nesting("# é\n  é[[", 1).unwrap_err();
        assert_eq!(err.at, Some((2, 5)));
        assert!(err
            .describe()
            .contains("more than 1 levels deep (line 2, column 5)"));
    }

    #[test]
    fn variables_are_bounded_like_the_document() {
        let vars = |depth: usize| {
            let json = format!("{{\"v\": {}}}", nested("[", "]", depth));
            Variables::from_json(serde_json::from_str(&json).unwrap())
        };
        // The variables object is level 1, so a list in it may nest max - 1 deep.
        assert_eq!(check_variables_nesting(&vars(63), 64), Ok(()));
        assert_eq!(
            check_variables_nesting(&vars(64), 64),
            Err(TooDeep { max: 64, at: None })
        );
        let object = Variables::from_json(serde_json::json!({"v": {"a": {"a": 1}}}));
        assert_eq!(check_variables_nesting(&object, 3), Ok(()));
        assert!(check_variables_nesting(&object, 2).is_err());
        assert_eq!(check_variables_nesting(&Variables::default(), 0), Ok(()));
    }
}
