//! Command ids with a request tag: `<id>#<tag>`.
//!
//! The part before the first `#` identifies the command (the idempotency key); the part
//! after it, if any, names the request the command was first made with. Two appends
//! with the same id are the same command: with tags, the same request when the tags are
//! equal (their events may differ, e.g. by the time they were decided at); without tags,
//! when their events are (the request digest, see `sled_store::digest`). Reusing an id
//! for another request is [`crate::StoreError::IdempotencyConflict`]. The tag is stored
//! with every event of the append (in its command id), so it survives restarts, backups
//! and export/import.

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
/// with `stored_id` / `stored_digest` (same id part assumed; see the module docs).
pub(crate) fn same_request(
    stored_id: &str,
    stored_digest: &[u8],
    new_id: &str,
    new_digest: &[u8],
) -> bool {
    match (request_tag(stored_id), request_tag(new_id)) {
        (Some(stored), Some(new)) => stored == new,
        (None, None) => stored_digest == new_digest,
        _ => false,
    }
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
    fn tagged_appends_are_the_same_request_when_their_tags_are_equal() {
        assert!(same_request("k#a", b"1", "k#a", b"2"));
        assert!(!same_request("k#a", b"1", "k#b", b"1"));
        assert!(same_request("k", b"1", "k", b"1"));
        assert!(!same_request("k", b"1", "k", b"2"));
        assert!(!same_request("k", b"1", "k#a", b"1"));
        assert!(!same_request("k#a", b"1", "k", b"1"));
    }
}
