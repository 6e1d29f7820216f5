//! The store's size bounds, and why they keep sled 0.34 from writing blob files.
//!
//! sled 0.34 stores a log message whose serialized size passes a quarter of its 512 KiB
//! log segment (minus headers: 131,020 bytes) as a separate file under `blobs/`
//! (`pagecache::logger::reserve_inner`). The messages that grow with our data are a
//! leaf page's frames (one key and value each) and, when sled consolidates a leaf, the
//! whole leaf: up to 17 entries (a leaf with more than 16 is split on the next
//! traversal, `Node::should_split`). The store's data file is fdatasync'ed after every
//! group; a blob file is a second file that would need its own fsync (the writer does
//! fsync any it finds, see `sled_store::blobs`), so the store keeps every value small
//! enough that even a leaf of 17 of the largest values stays well below the threshold:
//!
//! - one record (format byte + envelope + both hashes) is at most [`MAX_RECORD_BYTES`];
//! - a segment is closed before its records pass [`crate::segment::MAX_SEGMENT_BYTES`]
//!   (a single record of up to [`MAX_RECORD_BYTES`] gets a segment of its own);
//! - an index chunk entry holds a command id and a stream id, both part of a record, and
//!   a chunk is closed before its entries pass 6 KiB (`sled_store::index`);
//! - so a stored value is at most [`MAX_SLED_VALUE_BYTES`] and a full leaf at most
//!   [`MAX_LEAF_BYTES`], 84 % of sled's threshold (checked when this crate compiles).
//!
//! One append is at most [`MAX_APPEND_BYTES`] of records (it is staged and written in
//! one sled batch with the rest of its group; a command of the application writes a few
//! events, each at most [`MAX_RECORD_BYTES`]).

use crate::segment::{MAX_SEGMENT_BYTES, MAX_SEGMENT_RECORDS};

/// Most bytes one stored record may take: format byte, envelope (ids, actor, command id,
/// type name, payload) and the two 32-byte hashes. A larger one is refused with
/// [`crate::StoreError::RecordTooLarge`] and nothing of its append is written.
pub const MAX_RECORD_BYTES: usize = 6 * 1024;

/// Most bytes the records of one append may take together; a larger append is refused
/// with [`crate::StoreError::AppendTooLarge`] and nothing of it is written.
pub const MAX_APPEND_BYTES: usize = 256 * 1024;

/// sled 0.34.7 writes a message larger than this (serialized) as a blob file:
/// `segment_size / MINIMUM_ITEMS_PER_SEGMENT - SEG_HEADER_LEN - MAX_MSG_HEADER_LEN`.
pub const SLED_BLOB_THRESHOLD_BYTES: usize = 512 * 1024 / 4 - 20 - 32;

/// Most entries a sled 0.34 leaf holds when it is serialized (split above 16).
pub const SLED_LEAF_ENTRIES: usize = 17;

/// Segment framing: format byte, count, one end offset per record.
const SEGMENT_HEADER_BYTES: usize = 1 + 4 + 4 * MAX_SEGMENT_RECORDS;

/// Index chunk framing beyond its entries: format byte and the entry count (varint).
const INDEX_CHUNK_HEADER_BYTES: usize = 1 + 9;

/// The largest value the store writes to sled: a segment (records up to
/// `MAX_SEGMENT_BYTES`, or one record of up to `MAX_RECORD_BYTES`, plus framing) or an
/// index chunk (entries up to 6 KiB, or one entry of a record's strings and 64 bytes).
pub const MAX_SLED_VALUE_BYTES: usize = max(
    max(MAX_SEGMENT_BYTES, MAX_RECORD_BYTES) + SEGMENT_HEADER_BYTES,
    max(6 * 1024, MAX_RECORD_BYTES + 64) + INDEX_CHUNK_HEADER_BYTES,
);

/// A sled leaf of [`SLED_LEAF_ENTRIES`] of the largest values: per entry the value, its
/// 10-byte key and up to 18 bytes of length prefixes, plus 256 bytes for the leaf's
/// bounds and header (generous: its keys are at most 10 bytes).
pub const MAX_LEAF_BYTES: usize = SLED_LEAF_ENTRIES * (MAX_SLED_VALUE_BYTES + 10 + 18) + 256;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

// The margin the design promises: a full leaf stays below 90 % of sled's blob threshold.
const _: () = assert!(MAX_LEAF_BYTES * 10 < SLED_BLOB_THRESHOLD_BYTES * 9);
// sled 0.34.7's threshold as derived above.
const _: () = assert!(SLED_BLOB_THRESHOLD_BYTES == 131_020);
// A record fits in an append.
const _: () = assert!(MAX_RECORD_BYTES <= MAX_APPEND_BYTES);
