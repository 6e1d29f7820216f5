//! The key layout of the one sled tree (big-endian numbers so keys sort by value).
//!
//! | key | value |
//! |---|---|
//! | `g/` + first position (u64 BE) | a segment: the records of consecutive positions (see [`crate::segment`]) |
//! | `x/` + first position (u64 BE) | an index chunk: the appends whose events start there, in order (see [`crate::codec::IndexEntry`]) |
//! | `m/layout` | [`LAYOUT_VERSION`] (one byte) |
//!
//! Each group commit writes its records as segments and its appends (command id, stream,
//! first version, event count, request digest) as index chunks, in one atomic batch: a
//! few sled keys per group instead of two per append. The stream and command indexes
//! the writer and readers use are built from the `x/` chunks in memory (see
//! `sled_store::index`).
//!
//! Layout 2 (one `s/` key per event and one `c/` key per command id) is migrated to this
//! layout at open; layout 1 (one `e/` key per event) is refused with a message (export it
//! with an older build, import with this one).

/// Sub-directory of the store's directory that sled owns.
pub const SLED_DIR: &str = "sled";
/// sled's data file inside [`SLED_DIR`] (the file fdatasync'ed after each group).
pub const SLED_DATA_FILE: &str = "db";
/// The store's lock file in its directory.
pub const LOCK_FILE: &str = "LOCK";

/// The key layout this build writes and reads.
pub const LAYOUT_VERSION: u8 = 3;
/// The layout this build migrates at open (see `sled_store::migrate`).
pub const LAYOUT_2: u8 = 2;
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

/// Prefix of index chunk keys.
pub const INDEX_PREFIX: &[u8] = b"x/";

/// Key of the index chunk whose first append starts at `position`.
pub fn index_key(position: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[..2].copy_from_slice(INDEX_PREFIX);
    key[2..].copy_from_slice(&position.to_be_bytes());
    key
}

/// First position of an index chunk key, if it is one.
pub fn position_of_index_key(key: &[u8]) -> Option<u64> {
    u64_value(key.strip_prefix(INDEX_PREFIX)?)
}

/// Prefix of layout 2's per-event stream keys (`s/` + stream id + NUL + version), migrated at open.
pub const LAYOUT_2_STREAM_PREFIX: &[u8] = b"s/";
/// Prefix of layout 2's per-command keys (`c/` + command id), migrated at open.
pub const LAYOUT_2_COMMAND_PREFIX: &[u8] = b"c/";

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
    fn index_keys_sort_by_position_and_differ_from_segment_keys() {
        assert!(index_key(255) < index_key(256));
        assert_eq!(position_of_index_key(&index_key(7)), Some(7));
        assert_eq!(position_of_index_key(&segment_key(7)), None);
        assert_eq!(position_of_segment_key(&index_key(7)), None);
    }
}
