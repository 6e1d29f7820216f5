//! Segments: the records of consecutive positions stored together as one sled value.
//!
//! The writer commits a group of appends at a time; storing each group's records as a
//! few segments instead of one sled key per event cuts the sled inserts per one-event
//! append from three to about two, and lets a replay walk a few thousand sled entries
//! instead of one per event. A segment is framing only (no bincode):
//!
//! ```text
//! [SEGMENT_FORMAT_V1] count(u32 LE) end_offset(u32 LE) × count  record bytes …
//! ```
//!
//! where record `i` is `bytes[header + end(i-1) .. header + end(i)]` and each record is
//! exactly what [`crate::codec::encode_record`] writes (so the hash chain and the golden
//! envelopes are unchanged). The segment's key holds the position of its first record.

use std::ops::Range;

use crate::error::CodecError;

/// Format byte of segments written by this build.
pub const SEGMENT_FORMAT_V1: u8 = 1;

/// A segment is closed once its records reach this many bytes. sled 0.34 leaves hold up
/// to 17 entries and a node whose serialized size passes 128 KiB (a quarter of a 512 KiB
/// segment) becomes a separate blob file, which our per-group fdatasync of sled's data file
/// would not cover: 17 × ~6 KiB stays well below that.
pub const MAX_SEGMENT_BYTES: usize = 6 * 1024;

/// A segment holds at most this many records.
pub const MAX_SEGMENT_RECORDS: usize = 64;

const COUNT_LEN: usize = 4;
const OFFSET_LEN: usize = 4;

/// Encode `records` (in position order) as one segment.
pub fn encode<'a>(records: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let count = records.len();
    let total: usize = records.clone().map(<[u8]>::len).sum();
    let mut out = Vec::with_capacity(1 + COUNT_LEN + count * OFFSET_LEN + total);
    out.push(SEGMENT_FORMAT_V1);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let mut end = 0u32;
    for record in records.clone() {
        end += record.len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for record in records {
        out.extend_from_slice(record);
    }
    out
}

/// Split records (in position order, given by their lengths) into segment-sized runs:
/// each run is a range of indexes, at most [`MAX_SEGMENT_RECORDS`] long and closed once
/// its bytes reach [`MAX_SEGMENT_BYTES`] (a single larger record gets a segment of its own).
pub fn plan(record_lens: impl IntoIterator<Item = usize>) -> Vec<Range<usize>> {
    plan_by_bytes(record_lens, MAX_SEGMENT_BYTES, MAX_SEGMENT_RECORDS)
}

/// Split items (given by their sizes) into runs of consecutive indexes, each at most
/// `max_items` long and closed before its bytes would pass `max_bytes` (a single larger
/// item gets a run of its own).
pub fn plan_by_bytes(
    sizes: impl IntoIterator<Item = usize>,
    max_bytes: usize,
    max_items: usize,
) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut bytes, mut index) = (0usize, 0usize, 0usize);
    for len in sizes {
        if index > start && (bytes + len > max_bytes || index - start == max_items) {
            runs.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += len;
        index += 1;
    }
    if index > start {
        runs.push(start..index);
    }
    runs
}

/// A stored segment, checked for a sound header and offsets.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Segment<'a> {
    /// Check the header and offset table of a stored segment.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CodecError> {
        let Some((&format, rest)) = bytes.split_first() else {
            return Err(CodecError::Truncated("empty segment".into()));
        };
        if format != SEGMENT_FORMAT_V1 {
            return Err(CodecError::UnknownFormatVersion(format));
        }
        let count_bytes = rest
            .get(..COUNT_LEN)
            .ok_or_else(|| CodecError::Truncated("segment without a count".into()))?;
        let count = u32::from_le_bytes(count_bytes.try_into().expect("4 bytes")) as usize;
        let header = 1 + COUNT_LEN + count.saturating_mul(OFFSET_LEN);
        if count == 0 || header > bytes.len() {
            return Err(CodecError::Truncated(format!(
                "segment of {} bytes claims {count} records",
                bytes.len()
            )));
        }
        let segment = Segment { bytes, count };
        let mut previous = 0usize;
        for i in 0..count {
            let end = segment.end(i);
            if end < previous || header + end > bytes.len() {
                return Err(CodecError::Decode(format!(
                    "segment offset {i} out of order"
                )));
            }
            previous = end;
        }
        if header + previous != bytes.len() {
            return Err(CodecError::TrailingBytes(bytes.len() - header - previous));
        }
        Ok(segment)
    }

    /// A view of `bytes` that [`Segment::parse`] already accepted with `count` records
    /// (no second walk over the offsets).
    pub(crate) fn trusted(bytes: &'a [u8], count: usize) -> Self {
        Segment { bytes, count }
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no records (never true for a parsed segment).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Byte range of record `index` within the stored segment.
    pub fn record_range(&self, index: usize) -> Option<Range<usize>> {
        if index >= self.count {
            return None;
        }
        let header = 1 + COUNT_LEN + self.count * OFFSET_LEN;
        let start = if index == 0 { 0 } else { self.end(index - 1) };
        Some(header + start..header + self.end(index))
    }

    /// The bytes of record `index`.
    pub fn record(&self, index: usize) -> Option<&'a [u8]> {
        self.record_range(index).map(|range| &self.bytes[range])
    }

    /// All records in order.
    pub fn records(self) -> impl Iterator<Item = &'a [u8]> {
        (0..self.count).filter_map(move |i| self.record(i))
    }

    fn end(&self, index: usize) -> usize {
        let at = 1 + COUNT_LEN + index * OFFSET_LEN;
        u32::from_le_bytes(self.bytes[at..at + OFFSET_LEN].try_into().expect("4 bytes")) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_roundtrips_its_records_in_order() {
        let records: Vec<&[u8]> = vec![b"one", b"", b"three!"];
        let bytes = encode(records.iter().copied());
        let segment = Segment::parse(&bytes).unwrap();
        assert_eq!(segment.len(), 3);
        assert_eq!(segment.records().collect::<Vec<_>>(), records);
        assert_eq!(segment.record(3), None);
    }

    #[test]
    fn damaged_segment_headers_are_typed_errors_not_panics() {
        let bytes = encode([b"abc".as_slice(), b"de".as_slice()].into_iter());
        assert!(matches!(Segment::parse(&[]), Err(CodecError::Truncated(_))));
        assert!(matches!(
            Segment::parse(&[9, 1, 0, 0, 0]),
            Err(CodecError::UnknownFormatVersion(9))
        ));
        for cut in 1..bytes.len() {
            assert!(Segment::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge_count = bytes.clone();
        huge_count[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Segment::parse(&huge_count).is_err());
        let mut swapped = bytes.clone();
        swapped[5..9].copy_from_slice(&9u32.to_le_bytes());
        assert!(Segment::parse(&swapped).is_err());
    }

    #[test]
    fn plan_closes_segments_by_bytes_and_by_count() {
        assert_eq!(plan([]), Vec::<Range<usize>>::new());
        assert_eq!(plan([10, 10, 10]), vec![0..3]);
        let big = MAX_SEGMENT_BYTES / 2;
        assert_eq!(plan([big, big, big]), vec![0..2, 2..3]);
        assert_eq!(plan([MAX_SEGMENT_BYTES * 3, 1]), vec![0..1, 1..2]);
        let many = plan(std::iter::repeat_n(1, MAX_SEGMENT_RECORDS * 2 + 1));
        assert_eq!(
            many,
            vec![
                0..MAX_SEGMENT_RECORDS,
                MAX_SEGMENT_RECORDS..2 * MAX_SEGMENT_RECORDS,
                2 * MAX_SEGMENT_RECORDS..2 * MAX_SEGMENT_RECORDS + 1
            ]
        );
    }
}
