//! Reading records out of the segments stored in sled (see [`crate::segment`]).

use sled::IVec;

use crate::codec;
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::layout;
use crate::segment::Segment;

/// A stored segment, checked once when read, with the position of its first record.
pub(crate) struct StoredSegment {
    /// Position of its first record.
    pub(crate) first: u64,
    /// How many records it holds (at least one).
    len: u64,
    bytes: IVec,
}

impl StoredSegment {
    fn from_entry(key: &[u8], bytes: IVec) -> Result<Self, StoreError> {
        let first = layout::position_of_segment_key(key).ok_or_else(|| StoreError::Corrupt {
            position: 0,
            reason: "malformed segment key".into(),
        })?;
        let len = Segment::parse(&bytes)
            .map_err(|e| StoreError::Corrupt {
                position: first,
                reason: format!("bad segment: {e}"),
            })?
            .len() as u64;
        Ok(StoredSegment { first, len, bytes })
    }

    /// Position after its last record.
    pub(crate) fn end(&self) -> u64 {
        self.first + self.len
    }

    /// Whether `position` falls inside it.
    pub(crate) fn holds(&self, position: u64) -> bool {
        (self.first..self.end()).contains(&position)
    }

    fn view(&self) -> Segment<'_> {
        Segment::trusted(&self.bytes, self.len as usize)
    }

    /// The bytes of the record at `position`.
    pub(crate) fn record(&self, position: u64) -> Result<&[u8], StoreError> {
        let index = usize::try_from(position.wrapping_sub(self.first)).unwrap_or(usize::MAX);
        let missing = || StoreError::Corrupt {
            position,
            reason: "record missing".into(),
        };
        if !self.holds(position) {
            return Err(missing());
        }
        self.view().record(index).ok_or_else(missing)
    }

    /// Its records with their positions, in order.
    fn records(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        (self.first..).zip(self.view().records())
    }
}

/// Decode the record stored at `position`, as an error naming that position.
pub(crate) fn decode_at(position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    codec::decode_record(bytes).map_err(|e| StoreError::Corrupt {
        position,
        reason: e.to_string(),
    })
}

/// The segment holding `position`, if any is stored.
pub(crate) fn segment_holding(
    tree: &sled::Db,
    position: u64,
) -> Result<Option<StoredSegment>, StoreError> {
    let Some((key, bytes)) = tree
        .range(layout::segment_key(0)..=layout::segment_key(position))
        .next_back()
        .transpose()?
    else {
        return Ok(None);
    };
    let segment = StoredSegment::from_entry(&key, bytes)?;
    Ok(segment.holds(position).then_some(segment))
}

/// The last stored segment, if any.
pub(crate) fn last_segment(tree: &sled::Db) -> Result<Option<StoredSegment>, StoreError> {
    match tree
        .scan_prefix(layout::SEGMENT_PREFIX)
        .next_back()
        .transpose()?
    {
        Some((key, bytes)) => Ok(Some(StoredSegment::from_entry(&key, bytes)?)),
        None => Ok(None),
    }
}

/// sled 0.34's LRU keeps its page accesses in 256 shards and only looks at a shard (and
/// evicts from it) once 64 accesses have queued up there. A scan over segments touches few,
/// large leaf pages (17 segments of up to 6 KiB each), so during a replay no shard's queue
/// fills and every page read stays in memory: the whole log, whatever the cache bound
/// (measured: 1M events held ~235 MB more than just after opening, after one `read_all`
/// pass with an 8 MiB cache). After each leaf's worth of segments the scan reads its last
/// key this many times, which fills that page's queue, so its shard evicts down to its
/// share of the cache bound (measured: ~27 MB more than just after opening, same pass).
const LRU_QUEUE_TOUCHES: usize = 64;
/// Segments per sled leaf page (sled 0.34 splits a leaf with more than 16 entries).
pub(crate) const SEGMENTS_PER_LEAF: u64 = 16;

/// Make sled's LRU account for the leaf page holding `key` (see [`LRU_QUEUE_TOUCHES`]):
/// call it for every [`SEGMENTS_PER_LEAF`]th key of a scan over large values.
pub(crate) fn let_the_cache_evict(tree: &sled::Db, key: &[u8]) -> Result<(), StoreError> {
    for _ in 0..LRU_QUEUE_TOUCHES {
        tree.get(key)?;
    }
    Ok(())
}

/// Visit, in order, the segments holding positions `from..end` (the first may start before
/// `from`, the last end after `end`); a position no segment holds is [`StoreError::Corrupt`]
/// "record missing" at that position. Lets sled's cache evict as it goes.
fn walk_covering(
    tree: &sled::Db,
    from: u64,
    end: u64,
    mut visit: impl FnMut(StoredSegment) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let start = segment_holding(tree, from)?.map_or(from, |segment| segment.first);
    let mut next = from;
    let stored = tree.range(layout::segment_key(start)..layout::segment_key(end));
    for (seen, entry) in (1u64..).zip(stored) {
        let (key, bytes) = entry?;
        let segment = StoredSegment::from_entry(&key, bytes)?;
        if seen % SEGMENTS_PER_LEAF == 0 {
            let_the_cache_evict(tree, &key)?;
        }
        if segment.first > next {
            break;
        }
        next = next.max(segment.end());
        visit(segment)?;
        if next >= end {
            return Ok(());
        }
    }
    Err(StoreError::Corrupt {
        position: next,
        reason: "record missing".into(),
    })
}

/// The segments holding positions `from..end` (see [`walk_covering`]).
pub(crate) fn covering(
    tree: &sled::Db,
    from: u64,
    end: u64,
) -> Result<Vec<StoredSegment>, StoreError> {
    let mut covered = Vec::new();
    walk_covering(tree, from, end, |segment| {
        covered.push(segment);
        Ok(())
    })?;
    Ok(covered)
}

/// Decode the records at positions `from..end` held by `segments` (from [`covering`]).
pub(crate) fn decode_range(
    segments: &[StoredSegment],
    from: u64,
    end: u64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::with_capacity(events_in(segments, from, end));
    decode_into(&mut events, segments, from, end)?;
    Ok(events)
}

/// [`decode_range`] appending to `events`.
pub(crate) fn decode_into(
    events: &mut Vec<RecordedEvent>,
    segments: &[StoredSegment],
    from: u64,
    end: u64,
) -> Result<(), StoreError> {
    for (position, bytes) in segments.iter().flat_map(StoredSegment::records) {
        if (from..end).contains(&position) {
            events.push(decode_at(position, bytes)?);
        }
    }
    Ok(())
}

/// How many of positions `from..end` `segments` hold (sized up front: a page's events
/// are moved once, not on every doubling of a growing vector).
pub(crate) fn events_in(segments: &[StoredSegment], from: u64, end: u64) -> usize {
    segments
        .iter()
        .map(|s| s.end().min(end).saturating_sub(s.first.max(from)))
        .sum::<u64>() as usize
}

/// Walk the records at positions `from..end` in order, calling `visit(position, bytes)`;
/// a missing position is [`StoreError::Corrupt`] ("record missing") at that position.
pub(crate) fn for_each_record(
    tree: &sled::Db,
    from: u64,
    end: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    walk_covering(tree, from, end, |segment| {
        for (position, bytes) in segment.records() {
            if (from..end).contains(&position) {
                visit(position, bytes)?;
            }
        }
        Ok(())
    })
}
