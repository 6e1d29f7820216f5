//! Reading records out of the segments stored in sled (see [`crate::segment`]).

use sled::IVec;

use crate::error::StoreError;
use crate::layout;
use crate::segment::Segment;

/// A stored segment with the position of its first record.
pub(crate) struct StoredSegment {
    /// Position of its first record.
    pub(crate) first: u64,
    bytes: IVec,
}

impl StoredSegment {
    fn from_entry(key: &[u8], bytes: IVec) -> Result<Self, StoreError> {
        let first = layout::position_of_segment_key(key).ok_or_else(|| StoreError::Corrupt {
            position: 0,
            reason: "malformed segment key".into(),
        })?;
        Ok(StoredSegment { first, bytes })
    }

    /// Its parsed view (header and offsets checked).
    pub(crate) fn parse(&self) -> Result<Segment<'_>, StoreError> {
        Segment::parse(&self.bytes).map_err(|e| StoreError::Corrupt {
            position: self.first,
            reason: format!("bad segment: {e}"),
        })
    }

    /// Whether `position` falls inside it.
    fn holds(&self, position: u64) -> Result<bool, StoreError> {
        let len = self.parse()?.len() as u64;
        Ok(self.first <= position && position < self.first + len)
    }

    /// The bytes of the record at `position` (which it must hold).
    pub(crate) fn record(&self, position: u64) -> Result<&[u8], StoreError> {
        let index = usize::try_from(position.saturating_sub(self.first)).unwrap_or(usize::MAX);
        self.parse()?
            .record(index)
            .ok_or_else(|| StoreError::Corrupt {
                position,
                reason: "record missing".into(),
            })
    }
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
    Ok(segment.holds(position)?.then_some(segment))
}

/// The segments holding positions `from..end`, in order (the first may start before `from`).
pub(crate) fn segments_from(
    tree: &sled::Db,
    from: u64,
    end: u64,
) -> Result<impl Iterator<Item = Result<StoredSegment, StoreError>>, StoreError> {
    let start = match segment_holding(tree, from)? {
        Some(segment) => segment.first,
        None => from,
    };
    Ok(tree
        .range(layout::segment_key(start)..layout::segment_key(end))
        .map(|entry| {
            let (key, bytes) = entry?;
            StoredSegment::from_entry(&key, bytes)
        }))
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
/// (measured: 1M events held ~235 MB after one `read_all` pass with an 8 MiB cache). After
/// each leaf's worth of segments the scan reads its last key this many times, which fills
/// that page's queue, so its shard evicts down to its share of the cache bound (measured:
/// ~12 MB held after the same pass). It costs about 0.1 us per event read.
const LRU_QUEUE_TOUCHES: usize = 64;
/// Segments per sled leaf page (sled 0.34 splits a leaf with more than 16 entries).
const SEGMENTS_PER_LEAF: u64 = 16;

/// Make sled's LRU account for the leaf page holding `segment` (see [`LRU_QUEUE_TOUCHES`]).
fn let_the_cache_evict(tree: &sled::Db, segment: &StoredSegment) -> Result<(), StoreError> {
    let key = layout::segment_key(segment.first);
    for _ in 0..LRU_QUEUE_TOUCHES {
        tree.get(key)?;
    }
    Ok(())
}

/// The segments covering positions `from..end`, checked to leave no position out (a gap is
/// [`StoreError::Corrupt`] "record missing" at its first position).
pub(crate) fn covering(
    tree: &sled::Db,
    from: u64,
    end: u64,
) -> Result<Vec<StoredSegment>, StoreError> {
    let mut covered = Vec::new();
    let mut next = from;
    for (seen, segment) in (1u64..).zip(segments_from(tree, from, end)?) {
        let segment = segment?;
        if seen % SEGMENTS_PER_LEAF == 0 {
            let_the_cache_evict(tree, &segment)?;
        }
        if segment.first > next {
            break;
        }
        next = next.max(segment.first + segment.parse()?.len() as u64);
        covered.push(segment);
        if next >= end {
            return Ok(covered);
        }
    }
    Err(StoreError::Corrupt {
        position: next,
        reason: "record missing".into(),
    })
}

/// Decode the records at positions `from..end` held by `segments` (from [`covering`]).
pub(crate) fn decode_range(
    segments: &[StoredSegment],
    from: u64,
    end: u64,
    decode: impl Fn(u64, &[u8]) -> Result<crate::RecordedEvent, StoreError>,
) -> Result<Vec<crate::RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    for segment in segments {
        let parsed = segment.parse()?;
        for (position, bytes) in (segment.first..).zip(parsed.records()) {
            if (from..end).contains(&position) {
                events.push(decode(position, bytes)?);
            }
        }
    }
    Ok(events)
}

/// Walk the records at positions `from..end` in order, calling `visit(position, bytes)`;
/// a missing position is [`StoreError::Corrupt`] ("record missing") at that position.
pub(crate) fn for_each_record(
    tree: &sled::Db,
    from: u64,
    end: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut next = from;
    for (seen, segment) in (1u64..).zip(segments_from(tree, from, end)?) {
        let segment = segment?;
        if seen % SEGMENTS_PER_LEAF == 0 {
            let_the_cache_evict(tree, &segment)?;
        }
        if segment.first > next {
            break;
        }
        let parsed = segment.parse()?;
        for (position, bytes) in (segment.first..).zip(parsed.records()) {
            if position < next {
                continue;
            }
            if position >= end {
                return Ok(());
            }
            visit(position, bytes)?;
            next = position + 1;
        }
    }
    if next < end {
        return Err(StoreError::Corrupt {
            position: next,
            reason: "record missing".into(),
        });
    }
    Ok(())
}
