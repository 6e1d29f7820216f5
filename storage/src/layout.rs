//! The key layout of the one sled tree (big-endian numbers so keys sort by value).
//!
//! | key | value |
//! |---|---|
//! | `g/` + first position (u64 BE) | a segment: the records of consecutive positions (see [`crate::segment`]) |
//! | `s/` + stream id + `0x00` + version (u64 BE) | position (u64 BE) |
//! | `c/` + command id | [`crate::codec::CommandRecord`] |
//! | `m/layout` | [`LAYOUT_VERSION`] (one byte) |
//!
//! Layout 1 (before segments) stored one `e/` key per event; a store in that layout is
//! refused at open with a message (export it with the older build, import with this one).
//!
//! A stream's head (last version) is its last `s/` key. Stream ids never contain a NUL byte, so one stream's keys are never a
//! prefix-range of another's.

/// Sub-directory of the store's directory that sled owns.
pub const SLED_DIR: &str = "sled";
/// sled's data file inside [`SLED_DIR`] (the file fdatasync'ed after each group).
pub const SLED_DATA_FILE: &str = "db";
/// The store's lock file in its directory.
pub const LOCK_FILE: &str = "LOCK";

/// The key layout this build writes and reads.
pub const LAYOUT_VERSION: u8 = 2;
/// Key holding the layout version.
pub const LAYOUT_KEY: &[u8] = b"m/layout";
/// Prefix of layout 1's per-event record keys (only looked for, to refuse such a store).
pub const LAYOUT_1_RECORD_PREFIX: &[u8] = b"e/";

/// Prefix of segment keys.
pub const SEGMENT_PREFIX: &[u8] = b"g/";

/// Key of the segment whose first record is at `position`.
pub fn segment_key(position: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[..2].copy_from_slice(SEGMENT_PREFIX);
    key[2..].copy_from_slice(&position.to_be_bytes());
    key
}

/// First position of a segment key, if it is one.
pub fn position_of_segment_key(key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(SEGMENT_PREFIX)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// Prefix of all version index keys of one stream.
pub fn stream_prefix(stream_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream_id.len() + 3);
    key.extend_from_slice(b"s/");
    key.extend_from_slice(stream_id.as_bytes());
    key.push(0);
    key
}

/// Key of version `version` of `stream_id` (value: its position).
pub fn stream_key(stream_id: &str, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream_id);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Version of a stream index key (its last 8 bytes), if it is long enough to be one.
pub fn version_of_stream_key(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    u64_value(&key[start..])
}

/// Key of a command id's stored outcome.
pub fn command_key(command_id: &str) -> Vec<u8> {
    let mut key = b"c/".to_vec();
    key.extend_from_slice(command_id.as_bytes());
    key
}

/// A big-endian u64 value, if `bytes` is exactly 8 bytes.
pub fn u64_value(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_keys_sort_by_position() {
        assert!(segment_key(255) < segment_key(256));
        assert_eq!(position_of_segment_key(&segment_key(12345)), Some(12345));
        assert_eq!(position_of_segment_key(b"s/x"), None);
    }

    #[test]
    fn stream_keys_of_one_stream_never_cover_another() {
        let a = stream_prefix("a");
        assert!(!stream_key("a/x", 0).starts_with(&a));
        assert!(!stream_key("ab", 0).starts_with(&a));
        assert!(stream_key("a", 3).starts_with(&a));
        assert_eq!(version_of_stream_key(&stream_key("a", 3)), Some(3));
    }
}
