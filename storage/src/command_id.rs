//! Command ids with a request tag: `<id>#<tag>`.
//!
//! The part before the first `#` identifies the command (the idempotency key); the part
//! after it, if any, names the request the command was first made with. Two appends
//! whose ids have the same id part are one command: an append that repeats the stored
//! one exactly (the same full command id and the same events, see the request digest in
//! `sled_store::digest`) gets the first outcome and writes nothing; any other is
//! [`crate::StoreError::IdempotencyConflict`], and the caller looks the command up
//! ([`crate::EventStore::command_outcome`]; its events carry the stored command id with
//! its tag) to tell a retry of the same request (decided again, so with other events)
//! from a key reused for another request. The tag is stored with every event of the
//! append (in its command id), so it survives restarts, backups and export/import.

/// Separates a command id from its request tag.
pub const REQUEST_TAG_SEPARATOR: char = '#';

/// `id` tagged with `tag` (`id` must not contain the separator).
pub fn with_request_tag(id: &str, tag: &str) -> String {
    debug_assert!(!id.contains(REQUEST_TAG_SEPARATOR));
    format!("{id}{REQUEST_TAG_SEPARATOR}{tag}")
}

/// The id part of a command id (everything before the first separator).
pub fn id_part(command_id: &str) -> &str {
    split(command_id).0
}

/// The request tag of a command id, if it has one.
pub fn request_tag(command_id: &str) -> Option<&str> {
    split(command_id).1
}

/// A command id cut into its id and its request tag.
pub fn split(command_id: &str) -> (&str, Option<&str>) {
    match command_id.split_once(REQUEST_TAG_SEPARATOR) {
        Some((id, tag)) => (id, Some(tag)),
        None => (command_id, None),
    }
}

/// Whether an append with `new_id` (request digest `new_digest`) repeats the stored one
/// with `stored_id` / `stored_digest` exactly (same id part assumed; see the module docs).
pub(crate) fn repeats(
    stored_id: &str,
    stored_digest: &[u8],
    new_id: &str,
    new_digest: &[u8],
) -> bool {
    stored_id == new_id && stored_digest == new_digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_what_precedes_the_first_separator() {
        assert_eq!(split("k"), ("k", None));
        assert_eq!(split("k#op:1#x"), ("k", Some("op:1#x")));
        assert_eq!(id_part(&with_request_tag("k", "op:ab")), "k");
        assert_eq!(request_tag(&with_request_tag("k", "op:ab")), Some("op:ab"));
    }

    #[test]
    fn only_the_same_full_id_with_the_same_events_repeats_an_append() {
        assert!(repeats("k#a", b"1", "k#a", b"1"));
        assert!(!repeats("k#a", b"1", "k#a", b"2"));
        assert!(!repeats("k#a", b"1", "k#b", b"1"));
        assert!(repeats("k", b"1", "k", b"1"));
        assert!(!repeats("k", b"1", "k", b"2"));
        assert!(!repeats("k", b"1", "k#a", b"1"));
    }
}
